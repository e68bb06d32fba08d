// Package w's hand-written helpers, in the file skaldgen would write.
package w
