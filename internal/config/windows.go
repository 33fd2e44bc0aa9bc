package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// windowsName is a name that Windows' Tlntadmn.exe config gives a setting,
// and that users will try: tlntadmn config takes it (maxconn=10), and a
// file or tlntadmn that names it as a key is told the key it means.
type windowsName struct {
	name string // as typed: maxconn
	use  string // as tlntadmn config takes it (shown so in docs/configuration.md): maxconn=N; "" = only suggested
	note string // what it does, after use in docs/configuration.md, if use does not say
	// to gives the key's new value for the Windows value v, and false when
	// nothing changes; get returns a key's current value as Settings
	// writes it. nil: v as it is.
	to func(v string, get func(key string) string) (string, bool, error)
}

// FromWindows turns name=value, a setting as Windows' tlntadmn config
// takes it (maxconn=10, timeout=01:30:00), into the settings of this file
// it means: none when it changes nothing. get returns a key's current
// value as Settings writes it (port= and timeoutactive= depend on it).
// known is false when name is no such setting.
func FromWindows(name, value string, get func(key string) string) (s []Setting, known bool, err error) {
	for i := range fields { // Windows has no mappings
		f := &fields[i]
		for _, w := range f.aliases {
			if w.name != name || w.use == "" {
				continue
			}
			v, change := value, true
			if w.to != nil {
				if v, change, err = w.to(value, get); err != nil {
					return nil, true, fmt.Errorf("%s=%s: %w", name, value, err)
				}
			}
			if !change {
				return nil, true, nil
			}
			return []Setting{{Key: f.key, Value: v}}, true, nil
		}
	}
	return nil, false, nil
}

// hmsToDuration reads Windows' hh:mm:ss idle timeout.
func hmsToDuration(v string, _ func(string) string) (string, bool, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return "", false, errors.New("want hh:mm:ss, for example 01:30:00")
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || (i > 0 && x > 59) {
			return "", false, errors.New("want hh:mm:ss with minutes and seconds 0-59, for example 01:30:00")
		}
		n[i] = x
	}
	d := time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second
	return showDuration(d), true, nil
}

// timeoutActive turns the idle timeout off, or on at an hour (Windows'
// default) when it is off.
func timeoutActive(v string, get func(string) string) (string, bool, error) {
	switch strings.ToLower(v) {
	case "no":
		return "0", true, nil
	case "yes":
		if t := get("idle_timeout"); t == "0" || t == "0s" {
			return "1h", true, nil
		}
		return "", false, nil
	}
	return "", false, errors.New("want yes or no")
}

// portToListen gives every address of listen the port v.
func portToListen(v string, get func(string) string) (string, bool, error) {
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return "", false, errors.New("want a port number 1-65535")
	}
	var addrs []string
	for _, a := range strings.Split(strings.Trim(get("listen"), "[]"), ",") {
		a = strings.Trim(strings.TrimSpace(a), `"'`)
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return "", false, fmt.Errorf("current listen address %q: %w", a, err)
		}
		addrs = append(addrs, strconv.Quote(net.JoinHostPort(host, v)))
	}
	if len(addrs) == 0 {
		addrs = []string{strconv.Quote(":" + v)}
	}
	return "[" + strings.Join(addrs, ", ") + "]", true, nil
}

func lowerCase(v string, _ func(string) string) (string, bool, error) {
	return strings.ToLower(v), true, nil
}
