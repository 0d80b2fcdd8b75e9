package main

import "testing"

func TestTokenFeedHandsEachCellItsShareOnce(t *testing.T) {
	f := &tokenFeed{toks: []string{"a", "b", "c", "d", "e"}, perCell: 2}
	if tok := f.token(); tok != "" {
		t.Fatalf("before any cell: %q, want none", tok)
	}
	var seen []string
	for cell := 0; cell < 4; cell++ {
		f.beforeCell()
		for i := 0; i < 5; i++ { // more requests than the share: the extra ones get ""
			if tok := f.token(); tok != "" {
				seen = append(seen, tok)
			}
		}
	}
	want := []string{"a", "b", "c", "d", "e"}
	if len(seen) != len(want) {
		t.Fatalf("tokens handed out %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("tokens handed out %v, want each once in order %v", seen, want)
		}
	}
}
