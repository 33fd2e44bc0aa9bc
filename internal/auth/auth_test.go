package auth

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

var hashCache sync.Map // "cost/password" -> hash

// testHash returns a bcrypt hash of password at cost, made once per run.
func testHash(t testing.TB, password string, cost int) string {
	t.Helper()
	key := strconv.Itoa(cost) + "/" + password
	if h, ok := hashCache.Load(key); ok {
		return h.(string)
	}
	h, err := HashPasswordCost(password, cost)
	if err != nil {
		t.Fatal(err)
	}
	hashCache.Store(key, h)
	return h
}

func TestValidateUsername(t *testing.T) {
	// Non-ASCII letters are allowed, like htpasswd allows them; what is
	// refused is what could be read as an option, a path, a field
	// separator, or could disguise one name as another.
	tests := []struct {
		name    string
		wantErr string // "" = valid
	}{
		{"alice", ""},
		{"a", ""},
		{"alice.smith", ""},
		{"alice-smith", ""},
		{"alice_smith", ""},
		{"Alice2", ""},
		{"user@example.com", ""},
		{"a.", ""},
		{"...", ""},
		{"josé", ""},
		{"ユーザー", ""},
		{"émile-ß", ""},
		{strings.Repeat("a", 64), ""},
		{strings.Repeat("é", 32), ""}, // 64 bytes

		{"", "user name is empty"},
		{strings.Repeat("a", 65), "user name is longer than 64 bytes"},
		{strings.Repeat("é", 33), "user name is longer than 64 bytes"},
		{"-f", "user name starts with '-'"},
		{"-f root", "user name starts with '-'"},
		{"-", "user name starts with '-'"},
		{".", `user name is "."`},
		{"..", `user name is ".."`},
		{"../x", "user name contains '/'"},
		{"a/b", "user name contains '/'"},
		{"/etc/passwd", "user name contains '/'"},
		{"a:b", "user name contains ':'"},
		{"root:x", "user name contains ':'"},
		{"a b", "user name contains whitespace"},
		{" alice", "user name contains whitespace"},
		{"alice ", "user name contains whitespace"},
		{"al\x00ice", "user name contains control byte 0x00"},
		{"\x00", "user name contains control byte 0x00"},
		{"alice\n", "user name contains control byte 0x0a"},
		{"alice\r", "user name contains control byte 0x0d"},
		{"a\tb", "user name contains control byte 0x09"},
		{"\x1b[31m", "user name contains control byte 0x1b"},
		{"a\x7f", "user name contains control byte 0x7f"},
		{"a\xff", "user name is not valid UTF-8"},
		{"\xc3", "user name is not valid UTF-8"},
		{"a\xed\xa0\x80", "user name is not valid UTF-8"}, // surrogate
		{"a\u0085b", "user name contains whitespace (U+0085)"},
		{"a\u00a0b", "user name contains whitespace (U+00A0)"},
		{"a\u3000b", "user name contains whitespace (U+3000)"},
		{"a\u0080b", "user name contains non-printing character U+0080"},
		{"a\u009bb", "user name contains non-printing character U+009B"},
		{"admin\u202e", "user name contains non-printing character U+202E"}, // right-to-left override
		{"ad\u200bmin", "user name contains non-printing character U+200B"}, // zero-width space
		{"a\ufeff", "user name contains non-printing character U+FEFF"},
		{"a\ue000", "user name contains non-printing character U+E000"}, // private use
	}
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.name, "?"), func(t *testing.T) {
			err := ValidateUsername(tt.name)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ValidateUsername(%q) = %v, want nil", tt.name, err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ValidateUsername(%q) = nil, want %q", tt.name, tt.wantErr)
			case tt.wantErr != "" && err.Error() != tt.wantErr:
				t.Fatalf("ValidateUsername(%q) = %q, want %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestValidateGroupName(t *testing.T) {
	if err := ValidateGroupName("telnet-clients"); err != nil {
		t.Fatal(err)
	}
	if err := ValidateGroupName("-x"); err == nil || err.Error() != "group name starts with '-'" {
		t.Fatalf("ValidateGroupName(-x) = %v", err)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2y$10$") || len(h) != 60 {
		t.Fatalf("HashPassword = %q, want $2y$10$ and 60 characters", h)
	}
	if cost, msg := checkHash(h); msg != "" || cost != 10 {
		t.Fatalf("checkHash(HashPassword) = %d, %q", cost, msg)
	}
	h, err = HashPasswordCost("secret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2y$04$") {
		t.Fatalf("HashPasswordCost = %q, want $2y$04$", h)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("secret")); err != nil {
		t.Fatalf("compare: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("Secret")); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := HashPasswordCost("x", 3); err == nil {
		t.Fatal("cost 3 accepted")
	}
	if _, err := HashPasswordCost("x", MaxCost+1); err == nil {
		t.Fatal("cost 18 accepted")
	}
	if _, err := HashPasswordCost(strings.Repeat("x", 73), bcrypt.MinCost); err == nil {
		t.Fatal("73-byte password accepted: bcrypt would silently ignore its end")
	}
}
