// Package protocol implements the Telnet wire protocol (RFC 854/855) for a
// server: a byte-level parser that survives any fragmentation, the RFC 1143
// "Q method" option table, the subnegotiation codecs, and a Conn that wraps a
// net.Conn so that Read returns only data and Write escapes it.
//
// The package knows nothing of logins, PTYs or configuration files; callers
// pass policy in through Config. It uses the standard library only.
package protocol

import "strconv"

// Telnet commands (RFC 854, RFC 1184 for EOF/SUSP/ABORT).
const (
	EOF   byte = 236
	SUSP  byte = 237
	ABORT byte = 238
	EOR   byte = 239
	SE    byte = 240
	NOP   byte = 241
	DM    byte = 242
	BRK   byte = 243
	IP    byte = 244
	AO    byte = 245
	AYT   byte = 246
	EC    byte = 247
	EL    byte = 248
	GA    byte = 249
	SB    byte = 250
	WILL  byte = 251
	WONT  byte = 252
	DO    byte = 253
	DONT  byte = 254
	IAC   byte = 255
)

// Option codes.
const (
	OptBinary     byte = 0
	OptEcho       byte = 1
	OptSGA        byte = 3
	OptStatus     byte = 5
	OptTimingMark byte = 6
	OptLogout     byte = 18
	OptTTYPE      byte = 24
	OptEOR        byte = 25
	OptNAWS       byte = 31
	OptTSpeed     byte = 32
	OptLFlow      byte = 33
	OptLinemode   byte = 34
	OptXDispLoc   byte = 35
	OptOldEnviron byte = 36
	OptAuth       byte = 37
	OptEncrypt    byte = 38
	OptNewEnviron byte = 39
	OptCharset    byte = 42
	OptStartTLS   byte = 46
	OptEXOPL      byte = 255
)

// Subnegotiation verbs shared by TTYPE, NEW-ENVIRON and OLD-ENVIRON,
// STATUS, TSPEED and XDISPLOC (RFC 1091, 1572, 1408, 859, 1079, 1096).
const (
	sbIS   byte = 0
	sbSEND byte = 1
	sbINFO byte = 2
)

// LFLOW (TOGGLE-FLOW-CONTROL) commands (RFC 1372).
const (
	lflowOFF        byte = 0
	lflowON         byte = 1
	lflowRestartAny byte = 2
	lflowRestartXON byte = 3
)

// CHARSET messages (RFC 2066).
const (
	csREQUEST        byte = 1
	csACCEPTED       byte = 2
	csREJECTED       byte = 3
	csTTableIS       byte = 4
	csTTableRejected byte = 5
	csTTableACK      byte = 6
	csTTableNAK      byte = 7
)

// NEW-ENVIRON type bytes (RFC 1572). OLD-ENVIRON (RFC 1408) has the same
// codes on paper, but the BSD implementations that shipped it swapped VAR
// and VALUE (RFC 1571), so its replies are read either way.
const (
	envVAR     byte = 0
	envVALUE   byte = 1
	envESC     byte = 2
	envUSERVAR byte = 3
)

var commandNames = map[byte]string{
	EOF: "EOF", SUSP: "SUSP", ABORT: "ABORT", EOR: "EOR", SE: "SE", NOP: "NOP",
	DM: "DM", BRK: "BRK", IP: "IP", AO: "AO", AYT: "AYT", EC: "EC", EL: "EL",
	GA: "GA", SB: "SB", WILL: "WILL", WONT: "WONT", DO: "DO", DONT: "DONT", IAC: "IAC",
}

var optionNames = map[byte]string{
	OptBinary: "BINARY", OptEcho: "ECHO", OptSGA: "SGA", OptStatus: "STATUS",
	OptTimingMark: "TIMING-MARK", OptLogout: "LOGOUT", OptTTYPE: "TTYPE", OptEOR: "EOR",
	OptNAWS: "NAWS", OptTSpeed: "TSPEED", OptLFlow: "LFLOW", OptLinemode: "LINEMODE",
	OptXDispLoc: "XDISPLOC", OptOldEnviron: "OLD-ENVIRON", OptAuth: "AUTHENTICATION",
	OptEncrypt: "ENCRYPT", OptNewEnviron: "NEW-ENVIRON", OptCharset: "CHARSET",
	OptStartTLS: "START-TLS", OptEXOPL: "EXOPL",
}

// CommandName returns the RFC name of a Telnet command byte, or its number.
func CommandName(b byte) string {
	if n, ok := commandNames[b]; ok {
		return n
	}
	return strconv.Itoa(int(b))
}

// OptionName returns the RFC name of an option code, or its number.
func OptionName(o byte) string {
	if n, ok := optionNames[o]; ok {
		return n
	}
	return strconv.Itoa(int(o))
}
