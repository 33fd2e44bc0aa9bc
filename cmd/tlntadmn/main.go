// Command tlntadmn manages a running tlntsvr: sessions, messages,
// settings, pause and continue, and the Telnet users and groups files.
// Windows' Tlntadmn spellings work too.
package main

import (
	"errors"
	"fmt"
	"os"

	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/systemdunit"
	"golang.org/x/term"
)

func main() {
	f := &Factory{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Now: time.Now,
		Systemctl:    systemdunit.Systemctl,
		ReadPassword: readPasswordTTY,
	}
	cmd := NewCmdRoot(f)
	cmd.SetArgs(windowsMessageArgs(os.Args[1:]))
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tlntadmn:", err)
		if errors.Is(err, admin.ErrNotRunning) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

// NewCmdRoot builds the command tree. Bare tlntadmn prints the settings
// listing; -s, -k and -m are Windows' spellings of sessions, kill and
// message.
func NewCmdRoot(f *Factory) *cobra.Command {
	var (
		show    string
		killID  string
		msgID   string
		jsonOut bool
	)
	root := &cobra.Command{
		Use:   "tlntadmn",
		Short: "Manage the tlntsvr Telnet server",
		Long: `tlntadmn manages a running tlntsvr through its admin socket: who is logged on,
messages to them, ending sessions, settings, pause and continue. It also edits
the Telnet users and groups files.

Run alone it prints the server's settings, as Windows' tlntadmn does. The
Windows spellings work: -s [ID|all], -k ID|all, -m ID|all "text", and
config timeout=hh:mm:ss timeoutactive=yes|no maxfail=N maxconn=N port=N
mode=console|stream.`,
		Example: `  tlntadmn sessions
  tlntadmn message all "The server restarts at 18:00."
  tlntadmn kill 3 --message "Maintenance."
  tlntadmn config maxconn=10 timeout=00:30:00
  tlntadmn user add alice`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var given []string
			for _, name := range []string{"s", "k", "m"} {
				if cmd.Flags().Changed(name) {
					given = append(given, "-"+name)
				}
			}
			if len(given) > 1 {
				return fmt.Errorf("%s cannot be combined: give one of -s, -k or -m", strings.Join(given, " and "))
			}
			switch {
			case cmd.Flags().Changed("s"):
				// A bare -s is "-s=all" (NoOptDefVal), so Windows'
				// "-s ID" comes as -s followed by the ID as an argument.
				target, got := show, len(args)
				if !strings.EqualFold(show, "all") {
					got++ // -s=ID
				}
				switch {
				case len(args) == 1 && got == 1:
					target = args[0]
				case got > 1:
					return argCountError("-s", "at most one session ID or all", got)
				}
				return sessionsRun(&SessionsOptions{F: f, Target: target, JSON: jsonOut})
			case cmd.Flags().Changed("k"):
				if len(args) > 0 {
					return argCountError("-k", "one session ID or all", 1+len(args))
				}
				return killRun(&KillOptions{F: f, Target: killID})
			case cmd.Flags().Changed("m"):
				if len(args) == 0 {
					return argCountError("-m", "a session ID or all, then the text", 1)
				}
				return messageRun(&MessageOptions{F: f, Target: msgID, Text: strings.Join(args, " ")})
			}
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q; see tlntadmn --help", args[0])
			}
			return settingsRun(&SettingsOptions{F: f, JSON: jsonOut})
		},
	}
	root.PersistentFlags().StringVar(&f.SocketFlag, "socket", "", "admin socket of the daemon (default: admin_socket of the config file)")
	root.PersistentFlags().StringVarP(&f.ConfigFlag, "config", "c", "", "tlntsvr config file (default $TLNTSVR_CONFIG or /etc/tlntsvr/tlntsvr.yaml)")
	root.Flags().StringVarP(&show, "s", "s", "", "list sessions (Windows spelling): -s, -s ID or -s all")
	root.Flags().Lookup("s").NoOptDefVal = "all"
	root.Flags().StringVarP(&killID, "k", "k", "", "end session ID or all (Windows spelling)")
	root.Flags().StringVarP(&msgID, "m", "m", "", `send a message to session ID or all (Windows spelling): -m ID|all "text"; all that follows ID is the text`)
	root.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	root.AddCommand(
		NewCmdSessions(f, nil),
		NewCmdMessage(f, nil),
		NewCmdKill(f, nil),
		NewCmdShadow(f, nil),
		NewCmdConfig(f, nil),
		NewCmdPause(f, nil),
		NewCmdContinue(f, nil),
		NewCmdStart(f, nil),
		NewCmdStop(f, nil),
		NewCmdReload(f, nil),
		NewCmdUser(f),
		NewCmdGroup(f),
	)
	return root
}

// readPasswordTTY reads a password from the controlling terminal without
// echo.
func readPasswordTTY(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to read the password from; pipe it in with --password-stdin")
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(pw), nil
}
