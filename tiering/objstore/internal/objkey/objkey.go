package objkey

import (
	"fmt"
	"strings"
)

// Check returns "" if key is a valid object key, or the reason it is not.
// A valid key is non-empty printable ASCII, uses '/' as its only separator,
// has no leading or trailing '/', no empty, "." or ".." element, and no
// backslash. Implementations wrap the reason in their own error.
func Check(key string) string {
	if key == "" {
		return "empty"
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == 0:
			return "contains NUL"
		case c == '\\':
			return "contains backslash"
		case c < 0x20 || c > 0x7e:
			return fmt.Sprintf("byte 0x%02x at %d is not printable ASCII", c, i)
		}
	}
	if key[0] == '/' {
		return "leading slash"
	}
	if key[len(key)-1] == '/' {
		return "trailing slash"
	}
	for elem := range strings.SplitSeq(key, "/") {
		switch elem {
		case "":
			return "empty path element"
		case ".", "..":
			return fmt.Sprintf("%q path element", elem)
		}
	}
	return ""
}
