package task

import (
	"fmt"
	"strconv"
)

// MaxIDLength is the longest task id accepted, in bytes.
const MaxIDLength = 128

// IDSyntax describes the ids ValidateID accepts, for error messages and
// documentation.
const IDSyntax = "1 to 128 characters from A-Z a-z 0-9 _ - . : @, starting with a letter, a digit or _"

// ValidateID checks that id is a task id every entry point accepts: 1 to
// MaxIDLength bytes of ASCII letters, digits and "_-.:@", starting with a
// letter, a digit or "_".
//
// Ids travel in URLs, log lines, Redis keys (task:{id}:heartbeat), file
// names (per-task log files) and Kafka keys, so the syntax excludes every
// character that means something in one of them: "/" and ".." (paths),
// "?" and "#" (URLs), "$" (MongoDB operators), whitespace, control
// characters and NUL. Python's ids (uuid4 strings, "task_123") all pass.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("task id is empty; use %s", IDSyntax)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("task id is %d bytes long; use %s", len(id), IDSyntax)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			i > 0 && (c == '-' || c == '.' || c == ':' || c == '@')
		if !ok {
			what := strconv.QuoteRune(rune(c))
			if c < 0x20 || c >= 0x7f {
				what = fmt.Sprintf("byte 0x%02x", c)
			}
			return fmt.Errorf("task id %s has %s at byte %d; use %s",
				strconv.QuoteToASCII(clipID(id)), what, i, IDSyntax)
		}
	}
	return nil
}

// clipID shortens an id for an error message, so that a 10 KB id does not
// become a 10 KB log line.
func clipID(id string) string {
	if len(id) > 40 {
		return id[:40] + "..."
	}
	return id
}
