package main

import (
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// UserOptions are the parsed arguments of the user subcommands.
type UserOptions struct {
	F             *Factory
	Action        string // add, del, passwd, list
	Name          string
	OSAccount     string
	Group         string // group to add a new user to; "" = the clients group
	NoGroup       bool
	PasswordStdin bool
	JSON          bool
}

// NewCmdUser builds "tlntadmn user add|del|passwd|list".
func NewCmdUser(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage Telnet users (the users file)",
	}
	subcommandRequired(cmd)
	cmd.AddCommand(NewCmdUserAdd(f, nil), NewCmdUserDel(f, nil), NewCmdUserPasswd(f, nil), NewCmdUserList(f, nil))
	return cmd
}

func userCmd(f *Factory, runF func(*UserOptions) error, opts *UserOptions, c *cobra.Command) *cobra.Command {
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 {
			opts.Name = args[0]
			if err := auth.ValidateUsername(opts.Name); err != nil {
				return err
			}
		}
		if opts.OSAccount != "" {
			if err := auth.ValidateUsername(opts.OSAccount); err != nil {
				return fmt.Errorf("--os-account: %w", err)
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return userRun(opts)
	}
	return c
}

// NewCmdUserAdd builds "tlntadmn user add NAME".
func NewCmdUserAdd(f *Factory, runF func(*UserOptions) error) *cobra.Command {
	opts := &UserOptions{F: f, Action: "add"}
	cmd := userCmd(f, runF, opts, &cobra.Command{
		Use:   "add NAME",
		Short: "Add a Telnet user and put it in the telnet-clients group",
		Long: `Add a Telnet user to the users file with a bcrypt hash of its password, and
add it to the clients group (or --group), so it can log on at once. The user
runs as the OS account of the same name unless --os-account names another.`,
		Example: `  tlntadmn user add alice
  echo "$PW" | tlntadmn user add alice --os-account alice2 --password-stdin`,
		Args: wantArgs(1, 1, "one user name"),
	})
	cmd.Flags().StringVar(&opts.OSAccount, "os-account", "", "OS account the user's shell runs as (default: the same name)")
	cmd.Flags().StringVar(&opts.Group, "group", "", "group to add the user to (default: clients_group)")
	cmd.Flags().BoolVar(&opts.NoGroup, "no-group", false, "add the user to no group")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

// NewCmdUserDel builds "tlntadmn user del NAME".
func NewCmdUserDel(f *Factory, runF func(*UserOptions) error) *cobra.Command {
	opts := &UserOptions{F: f, Action: "del"}
	return userCmd(f, runF, opts, &cobra.Command{
		Use:   "del NAME",
		Short: "Remove a Telnet user from the users file and every group (open sessions go on)",
		Args:  wantArgs(1, 1, "one user name"),
	})
}

// NewCmdUserPasswd builds "tlntadmn user passwd NAME".
func NewCmdUserPasswd(f *Factory, runF func(*UserOptions) error) *cobra.Command {
	opts := &UserOptions{F: f, Action: "passwd"}
	cmd := userCmd(f, runF, opts, &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a Telnet user's password",
		Args:  wantArgs(1, 1, "one user name"),
	})
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

// NewCmdUserList builds "tlntadmn user list".
func NewCmdUserList(f *Factory, runF func(*UserOptions) error) *cobra.Command {
	opts := &UserOptions{F: f, Action: "list"}
	cmd := userCmd(f, runF, opts, &cobra.Command{
		Use:   "list",
		Short: "List the Telnet users, their OS accounts and groups",
		Args:  wantArgs(0, 0, "no arguments"),
	})
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

type userEntry struct {
	Name      string   `json:"name"`
	OSAccount string   `json:"os_account"`
	Groups    []string `json:"groups"`
}

func userRun(o *UserOptions) error {
	// The new password is asked for and hashed before the edit lock is
	// taken, so an admin at the prompt holds up no other edit; whether
	// the user exists is checked before asking, and again under the lock.
	var hash string
	if o.Action == "add" || o.Action == "passwd" {
		files, err := openAccountFiles(o.F, true, false)
		if err != nil {
			return err
		}
		if err := checkUserExists(o, files); err != nil {
			return err
		}
		pw, err := readPassword(o.F, o.PasswordStdin)
		if err != nil {
			return err
		}
		if hash, err = auth.HashPassword(pw); err != nil {
			return err
		}
	}
	files, err := openAccountFiles(o.F, true, o.Action != "list")
	if err != nil {
		return err
	}
	defer files.unlock()
	if err := checkUserExists(o, files); err != nil {
		return err
	}
	cfg, users, groups := files.cfg, files.users, files.groups
	switch o.Action {
	case "list":
		var list []userEntry
		for _, u := range users.Users() {
			e := userEntry{Name: u.Name, OSAccount: u.OSAccount, Groups: []string{}}
			for _, g := range groups.Groups() {
				if groups.IsMember(g, u.Name) {
					e.Groups = append(e.Groups, g)
				}
			}
			list = append(list, e)
		}
		if o.JSON {
			if list == nil {
				list = []userEntry{}
			}
			return printJSON(o.F.Out, list)
		}
		if len(list) == 0 {
			fmt.Fprintf(o.F.Out, "No users in %s.\n", cfg.UsersFile)
			return nil
		}
		tw := tabwriter.NewWriter(o.F.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tOS ACCOUNT\tGROUPS")
		for _, e := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.OSAccount, strings.Join(e.Groups, ","))
		}
		return tw.Flush()

	case "add":
		acct := o.OSAccount
		if acct == "" {
			acct = o.Name
		}
		if err := users.Set(auth.User{Name: o.Name, Hash: hash, OSAccount: acct}); err != nil {
			return err
		}
		group := o.Group
		if group == "" {
			group = cfg.ClientsGroup
		}
		if !o.NoGroup {
			if err := groups.AddMember(group, o.Name); err != nil {
				return err
			}
			// Groups first: a user who can authenticate but is in no group
			// yet would be refused in between, never let in wrongly.
			if err := save(cfg.GroupsFile, 0o640, groups.Write); err != nil {
				return err
			}
		}
		if err := save(cfg.UsersFile, 0o600, users.Write); err != nil {
			return err
		}
		msg := fmt.Sprintf("Added user %s (OS account %s)", o.Name, acct)
		if !o.NoGroup {
			msg += " to group " + group
		}
		fmt.Fprintln(o.F.Out, msg+".")
		if note := rootNote(acct, cfg.AllowRoot); note != "" {
			fmt.Fprintln(o.F.Out, note)
		}
		notifyDaemon(o.F, "user add "+o.Name)

	case "passwd":
		u, _ := users.Lookup(o.Name)
		u.Hash = hash
		if err := users.Set(u); err != nil {
			return err
		}
		if err := save(cfg.UsersFile, 0o600, users.Write); err != nil {
			return err
		}
		fmt.Fprintf(o.F.Out, "Password of %s changed.\n", o.Name)
		notifyDaemon(o.F, "user passwd "+o.Name)

	case "del":
		if !users.Delete(o.Name) {
			return fmt.Errorf("no user %s in %s", o.Name, cfg.UsersFile)
		}
		// Users file first: once it is gone the user cannot log on,
		// whatever the groups say.
		if err := save(cfg.UsersFile, 0o600, users.Write); err != nil {
			return err
		}
		changed := false
		for _, g := range groups.Groups() {
			changed = groups.RemoveMember(g, o.Name) || changed
		}
		if changed {
			if err := save(cfg.GroupsFile, 0o640, groups.Write); err != nil {
				return err
			}
		}
		fmt.Fprintf(o.F.Out, "Removed user %s. Sessions already open go on; end them with tlntadmn kill.\n", o.Name)
		notifyDaemon(o.F, "user del "+o.Name)
	default:
		return errors.New("unknown user action " + o.Action)
	}
	return nil
}

// rootNote says what becomes of a user who runs as an account of uid 0:
// refused at logon unless the config allows root, and if it does, a root
// password that crosses the network in clear text.
func rootNote(account string, allowRoot bool) string {
	u, err := user.Lookup(account)
	if err != nil || u.Uid != "0" {
		return ""
	}
	if !allowRoot {
		return fmt.Sprintf("Note: OS account %s is root (uid 0): tlntsvr refuses this user's logons unless the config sets allow_root: true.", account)
	}
	return fmt.Sprintf("Note: this user logs on as root (OS account %s, uid 0; allow_root is true); its password crosses the network in clear text unless Telnet runs over TLS.", account)
}

// checkUserExists refuses to add a user who is already there, or to
// change the password of one who is not.
func checkUserExists(o *UserOptions, files *accountFiles) error {
	_, exists := files.users.Lookup(o.Name)
	switch {
	case o.Action == "add" && exists:
		return fmt.Errorf("user %s already exists in %s; use tlntadmn user passwd to change the password", o.Name, files.cfg.UsersFile)
	case o.Action == "passwd" && !exists:
		return fmt.Errorf("no user %s in %s", o.Name, files.cfg.UsersFile)
	}
	return nil
}
