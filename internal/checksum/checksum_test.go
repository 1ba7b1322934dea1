package checksum

import "testing"

// Values from ../shared/reference/checksums.md.
func TestKnownValues(t *testing.T) {
	cases := map[Algorithm]string{
		CRC32:     "DUoRhQ==",
		CRC32C:    "yZRlqg==",
		CRC64NVME: "jSnVw/bqjr4=",
		SHA1:      "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
		SHA256:    "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
	}
	for a, want := range cases {
		h := a.New()
		h.Write([]byte("hello world"))
		if got := Encode(h.Sum(nil)); got != want {
			t.Errorf("%s: %s, want %s", a, got, want)
		}
		if !a.Valid(want) || a.Valid("AAAA") {
			t.Errorf("%s: Valid wrong", a)
		}
	}
	h := CRC64NVME.New()
	h.Write([]byte("123456789"))
	if got := Encode(h.Sum(nil)); got != "rosUhgp5mIg=" {
		t.Errorf("crc64nvme check value %s", got)
	}
}

func TestComposite(t *testing.T) {
	if v, ok := Composite(CRC32, []string{"7YH59g==", "OncRQw=="}); !ok || v != "1Fu2mQ==-2" {
		t.Fatalf("crc32 composite %s", v)
	}
	v, ok := Composite(SHA256, []string{"XjI1qDRuWkWF+MWFYvUFK4/iajuxIuHpbHZ4SWTfxGE=", "SG6kYiTRu0+2gPNPfJrZao8k7Ii+c+qOWmxlJg6cuKc="})
	if !ok || v != "Zhie15keHg/OBlOZxcoF/BXCgYZaeimRvdZnwUZqkaQ=-2" {
		t.Fatalf("sha256 composite %s", v)
	}
	if _, ok := Composite(CRC32, []string{"not base64"}); ok {
		t.Fatal("accepted garbage")
	}
}

func TestParse(t *testing.T) {
	if a, ok := Parse("crc32c"); !ok || a != CRC32C {
		t.Fatal("crc32c")
	}
	if _, ok := Parse("MD5"); ok {
		t.Fatal("MD5 is not a supported flexible checksum")
	}
}

func TestCombine(t *testing.T) {
	a := []byte("hello ")
	b := []byte("world, and a longer second part to cross a few bytes")
	for _, alg := range []Algorithm{CRC32, CRC32C, CRC64NVME} {
		sum := func(p []byte) []byte { h := alg.New(); h.Write(p); return h.Sum(nil) }
		got, ok := Combine(alg, sum(a), sum(b), int64(len(b)))
		want := sum(append(append([]byte{}, a...), b...))
		if !ok || string(got) != string(want) {
			t.Fatalf("%s: combined %x, want %x", alg, got, want)
		}
		// Reference values: "hello " ‖ "world" is "hello world".
		got, _ = Combine(alg, sum(a), sum([]byte("world")), 5)
		if Encode(got) != map[Algorithm]string{CRC32: "DUoRhQ==", CRC32C: "yZRlqg==", CRC64NVME: "jSnVw/bqjr4="}[alg] {
			t.Fatalf("%s: hello world = %s", alg, Encode(got))
		}
	}
	if _, ok := Combine(SHA256, nil, nil, 1); ok {
		t.Fatal("SHA256 cannot be combined")
	}
}
