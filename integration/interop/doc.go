// Package interop proves wire compatibility with the real Python Skalds
// 0.3.8, in both directions: the seed story's own Python scripts drive a Go
// node, the Go typed client drives a Python node, a Go controller runs a
// mixed fleet, the Python SystemController answers on state that Go wrote,
// and Go and kafka-python producers agree on partitions.
//
// The Python side runs as real processes from the interpreter that
// skaldtest.Python finds (scripts/python-env); without it the tests end
// through skaldtest.Absent. Python Skalds pins kafka-python's
// api_version=(0, 10, 1) for its producer, which neither kfake nor Kafka
// 4.x accept: tests in which Python produces need a broker that does
// (SKALDS_TEST_KAFKA, the 3.9 broker of scripts/peers), and end through
// Absent otherwise.
package interop
