package objkey

import "testing"

func TestCheck(t *testing.T) {
	t.Parallel()
	valid := []string{"a", "a/b", "seg/agent-1/2024.seg", "a.b/..c/d..", "x y", "~!@#$%^&*()"}
	for _, k := range valid {
		if r := Check(k); r != "" {
			t.Errorf("Check(%q) = %q, want \"\"", k, r)
		}
	}
	invalid := []string{"", "/a", "a/", "a//b", "..", "a/../b", "a/..", ".", "a/./b", `a\b`, "a\x00b", "a\nb", "caf\xc3\xa9", "a\x7f"}
	for _, k := range invalid {
		if r := Check(k); r == "" {
			t.Errorf("Check(%q) = \"\", want a reason", k)
		}
	}
}
