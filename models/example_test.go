package models_test

import (
	"context"
	"fmt"

	"github.com/kappa-stream/kappa/models"
)

func ExampleNewFileWatcher() {
	w, err := models.NewFileWatcher(models.FileConfig{
		Path:     "../score/testdata/linear_binary.json",
		Name:     "fraud",
		Features: []string{"f0", "f1", "f2", "f3", "f4"},
	})
	if err != nil {
		fmt.Println(err) // names the file and the problem: do not start the pipeline
		return
	}
	// In a program, Run is a member of main's run group.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	v := w.Holder().Load() // once per record; never nil
	score := v.Model.Predict([]float64{0.3, -1.2, 0.8, 0, 40}, nil)[0]
	fmt.Printf("%s %s %s %.4f\n", v.Name, v.Version, v.Model.Kind(), score)

	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// fraud sha256:22ff8eab2e90 logistic 0.8752
	// run: <nil>
}
