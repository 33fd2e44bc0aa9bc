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
		{"2TiB", 2 << 40, true}, // record.max_bytes's 1TiB is its range: TestRecordMaxBytesRange
		{"2G", 2 << 30, true},
		{"16777216", 16 << 20, true},
		{"4194304T", 1 << 62, true},
		{"4194305T", 0, false},
		{"99999999999999999999", 0, false},
		{"-1", 0, false},
		{"12X", 0, false},
		{"1.5GiB", 0, false},
		{"64MB", 0, false},
		{"", 0, false},
	} {
		got, err := parseByteSize(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err == nil {
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

// FuzzParseByteSize: any text is read or refused without a panic, and
// what is read is at most maxByteSize and reads back from its String.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"64MiB", "4096B", "512 KiB", "2G", "4194304T", "-1", "1.5GiB", "", "+7K", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseByteSize(s)
		if err != nil {
			return
		}
		if v < 0 || v > maxByteSize {
			t.Fatalf("%q read as %d", s, v)
		}
		if back, err := parseByteSize(v.String()); err != nil || back != v {
			t.Fatalf("%q read as %d, written %q, read back as %d, %v", s, v, v.String(), back, err)
		}
	})
}
