// Command kappa is the Kappa stream processor's command line: it reads flags and pipeline
// files and wires the packages together (run, replay, validate, demo, version).
//
// It is wiring only: logic that a test or another command could want lives in a package, not
// here. It is the only package that sees every other one.
package main
