// Package skalds is the root of skalds-go, a code-generation framework for
// long-running, hot-updatable task workers on Kafka, MongoDB and Redis.
package skalds
