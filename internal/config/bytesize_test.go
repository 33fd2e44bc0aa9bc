package config

import "testing"

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"64MiB", 64 << 20, true},
		{"4096", 4096, true},
		{"4096B", 4096, true},
		{"512 KiB", 512 << 10, true},
		{"1TiB", 1 << 40, true},
		{"2TiB", 0, false},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"64MB", 0, false},
		{"", 0, false},
	} {
		got, ok := parseByteSize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok {
			if back, _ := parseByteSize(got.String()); back != got {
				t.Errorf("%q: String %q reads back as %d", tc.in, got.String(), back)
			}
		}
	}
	if s := ByteSize(1536).String(); s != "1536" {
		t.Errorf("1536 bytes written as %q", s)
	}
}

func TestRecordMaxBytesRange(t *testing.T) {
	for _, v := range []string{"1KiB", "2TiB", "lots", "[1]"} {
		if _, err := Parse([]byte("record: {max_bytes: "+v+"}\n"), "t.yaml"); err == nil {
			t.Errorf("max_bytes %s accepted", v)
		}
	}
	c, err := Parse([]byte("record:\n  max_bytes: 8192\n"), "t.yaml")
	if err != nil || c.Record.MaxBytes != 8192 {
		t.Fatalf("max_bytes 8192: %v, %v", c, err)
	}
}
