package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// GroupOptions are the parsed arguments of the group subcommands.
type GroupOptions struct {
	F       *Factory
	Action  string // add, del, list
	Group   string
	Members []string
	JSON    bool
}

// NewCmdGroup builds "tlntadmn group add|del|list".
func NewCmdGroup(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Manage Telnet groups (the groups file)",
	}
	subcommandRequired(cmd)
	cmd.AddCommand(
		groupCmd(f, nil, "add", &cobra.Command{
			Use:     "add GROUP [USER...]",
			Short:   "Create a group, or add users to it",
			Example: "  tlntadmn group add telnet-clients alice bob",
			Args:    wantArgs(1, -1, "a group name, then any user names"),
		}),
		groupCmd(f, nil, "del", &cobra.Command{
			Use:   "del GROUP [USER...]",
			Short: "Remove users from a group, or the whole group when no user is named",
			Args:  wantArgs(1, -1, "a group name, then any user names"),
		}),
		groupCmd(f, nil, "list", &cobra.Command{
			Use:   "list",
			Short: "List the groups and their members",
			Args:  wantArgs(0, 0, "no arguments"),
		}),
	)
	return cmd
}

func groupCmd(f *Factory, runF func(*GroupOptions) error, action string, c *cobra.Command) *cobra.Command {
	opts := &GroupOptions{F: f, Action: action}
	if action == "list" {
		c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.Group, opts.Members = args[0], args[1:]
			if err := auth.ValidateGroupName(opts.Group); err != nil {
				return err
			}
			for _, m := range opts.Members {
				if err := auth.ValidateUsername(m); err != nil {
					return err
				}
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return groupRun(opts)
	}
	return c
}

type groupEntry struct {
	Group   string   `json:"group"`
	Members []string `json:"members"`
}

func groupRun(o *GroupOptions) error {
	files, err := openAccountFiles(o.F, false, o.Action != "list")
	if err != nil {
		return err
	}
	defer files.unlock()
	cfg, groups := files.cfg, files.groups
	switch o.Action {
	case "list":
		list := []groupEntry{}
		for _, g := range groups.Groups() {
			list = append(list, groupEntry{Group: g, Members: append([]string{}, groups.Members(g)...)})
		}
		if o.JSON {
			return printJSON(o.F.Out, list)
		}
		tw := tabwriter.NewWriter(o.F.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tMEMBERS")
		for _, e := range list {
			fmt.Fprintf(tw, "%s\t%s\n", e.Group, strings.Join(e.Members, " "))
		}
		return tw.Flush()
	case "add":
		if err := groups.AddGroup(o.Group); err != nil {
			return err
		}
		for _, m := range o.Members {
			if err := groups.AddMember(o.Group, m); err != nil {
				return err
			}
		}
	case "del":
		if len(o.Members) == 0 {
			if !groups.DeleteGroup(o.Group) {
				return fmt.Errorf("no group %s in %s", o.Group, cfg.GroupsFile)
			}
		}
		for _, m := range o.Members {
			if !groups.RemoveMember(o.Group, m) {
				return fmt.Errorf("%s is not a member of %s", m, o.Group)
			}
		}
	}
	if err := save(cfg.GroupsFile, 0o640, groups.Write); err != nil {
		return err
	}
	fmt.Fprintf(o.F.Out, "Group %s: %s\n", o.Group, strings.Join(groups.Members(o.Group), " "))
	notifyDaemon(o.F, "group "+o.Action+" "+o.Group+" "+strings.Join(o.Members, " "))
	return nil
}
