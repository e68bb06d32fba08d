// Package integration holds the tests that run the runtime against real
// servers: the embedded ones (kfake, FerretDB behind its serializing proxy,
// miniredis) or the local Redis. It is a module of its own so that the
// servers never enter the dependencies of the runtime that users import.
package integration
