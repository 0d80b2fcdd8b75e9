package grants

import (
	"bytes"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	for _, plain := range [][]byte{[]byte("workos refresh token"), {}, bytes.Repeat([]byte{0xff}, 4096)} {
		sealed, err := seal("bridge-code", "workos-tokens", plain)
		if err != nil {
			t.Fatalf("seal(%q) error = %v", plain, err)
		}
		if len(plain) > 0 && bytes.Contains(sealed, plain) {
			t.Errorf("seal(%q) = %x, contains the plaintext", plain, sealed)
		}
		got, err := unseal("bridge-code", "workos-tokens", sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("unseal(seal(%q)) = %q, %v, want %q, nil", plain, got, err, plain)
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	a, _ := seal("s", "p", []byte("x"))
	b, _ := seal("s", "p", []byte("x"))
	if bytes.Equal(a, b) {
		t.Errorf("seal(same input) twice = %x and %x, want different nonces", a, b)
	}
}

func TestUnsealRefuses(t *testing.T) {
	plain := []byte("workos refresh token")
	sealed, err := seal("secret", "purpose", plain)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	for _, tc := range []struct {
		name, secret, purpose string
		data                  []byte
	}{
		{"S/wrong-secret", "secreT", "purpose", sealed},
		{"S/empty-secret", "", "purpose", sealed},
		{"S/wrong-purpose", "secret", "purpose2", sealed},
		{"S/flipped-nonce", "secret", "purpose", flip(0)},
		{"S/flipped-ciphertext", "secret", "purpose", flip(12)},
		{"S/flipped-tag", "secret", "purpose", flip(len(sealed) - 1)},
		{"S/truncated-by-one", "secret", "purpose", sealed[:len(sealed)-1]},
		{"S/truncated-to-nonce-and-tag", "secret", "purpose", sealed[:12+16]},
		{"S/truncated-to-nonce", "secret", "purpose", sealed[:12]},
		{"S/truncated-short", "secret", "purpose", sealed[:5]},
		{"S/empty", "secret", "purpose", nil},
		{"S/extended", "secret", "purpose", append(bytes.Clone(sealed), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unseal(tc.secret, tc.purpose, tc.data)
			if err == nil {
				t.Errorf("unseal(%q, %q, %x) = %q, nil, want an error", tc.secret, tc.purpose, tc.data, got)
			}
		})
	}
}

func TestSealKeySeparation(t *testing.T) {
	// The purpose is framed, so ("ab", "c") and ("a", "bc")-style splits give distinct keys.
	if bytes.Equal(sealKey("s", "a"), sealKey("s", "b")) || bytes.Equal(sealKey("s", "p"), sealKey("t", "p")) {
		t.Errorf("sealKey does not separate secrets or purposes")
	}
	if got := len(sealKey("s", "p")); got != 32 {
		t.Errorf("len(sealKey) = %d, want 32", got)
	}
}
