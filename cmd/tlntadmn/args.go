package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// wantArgs checks that a command got from min to max arguments (max < 0:
// no upper bound). takes says what the command accepts, for the error:
// cobra's own ("accepts 1 arg(s), received 0") names neither the command
// nor what it wants.
func wantArgs(min, max int, takes string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || max >= 0 && len(args) > max {
			return argCountError(commandName(cmd), takes, len(args))
		}
		return nil
	}
}

// argCountError is the one wording of "wrong number of arguments" for
// commands and the Windows flags: what (sessions, user add, -s) takes
// what, and how many arguments it got.
func argCountError(what, takes string, got int) error {
	n := "no arguments"
	if got > 0 {
		n = plural(got, "argument")
	}
	return fmt.Errorf("%s takes %s; got %s", what, takes, n)
}

// commandName is the command as typed after tlntadmn: "user add".
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// subcommandRequired makes a command that only groups others (user, group)
// fail when run alone or with a subcommand it does not have; cobra would
// print the help and exit 0, so a typo in a script would go unnoticed.
func subcommandRequired(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var names []string
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		want := strings.Join(names, ", ")
		if n := len(names); n > 1 {
			want = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
		}
		if len(args) == 0 {
			return fmt.Errorf("%s needs a command: %s; see tlntadmn %s --help", commandName(cmd), want, commandName(cmd))
		}
		return fmt.Errorf("unknown %s command %q; want %s", commandName(cmd), args[0], want)
	}
}

// windowsMessageArgs marks where the text of Windows' -m ID "text" begins,
// so that a text starting with '-' ("-5 minutes to the restart") is sent,
// not read as flags: tlntadmn -m ID text... becomes tlntadmn -m ID -- text...
// Only -m before any command is Windows' spelling; the message command's
// own arguments are left to cobra.
func windowsMessageArgs(args []string) []string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			return args
		case a == "--socket" || a == "--config" || a == "-c" || a == "-k":
			i++ // the flag's value
		case a == "-m":
			return insertEndOfFlags(args, i+2)
		case strings.HasPrefix(a, "-m"): // -m=ID, -mID
			return insertEndOfFlags(args, i+1)
		case !strings.HasPrefix(a, "-"):
			return args // a command, or -s's session ID
		}
	}
	return args
}

// insertEndOfFlags puts "--" at args[i], unless it is there or args ends
// before i (cobra then reports the missing value).
func insertEndOfFlags(args []string, i int) []string {
	if i > len(args) || i < len(args) && args[i] == "--" {
		return args
	}
	return slices.Insert(slices.Clone(args), i, "--")
}
