package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/open"
)

// migrateBackend is what `strata migrate` needs of a metastore backend.
type migrateBackend struct {
	migrate func(ctx context.Context) ([]metastore.Migration, error)
	status  func(ctx context.Context) ([]metastore.Migration, error)
}

func newMigrateCommand() *cobra.Command {
	var (
		metastoreURL string
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "migrate up|status --metastore URL",
		Short: "Apply or list the metastore's schema migrations",
		Long: `Apply (up) or list (status) the schema migrations of a metastore:
postgres://... (or postgresql://...) or sqlite://PATH. The URL comes from
--metastore or STRATA_METASTORE.

Agents apply migrations themselves when they open the metastore; run
"strata migrate up" first when they should not (e.g. several agents
upgraded at once, or a database role that may not change the schema).`,
		// Without a subcommand: a usage error, not help and exit 0.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("migrate: missing subcommand: up or status")}
			}
			return usageError{fmt.Errorf("migrate: unknown subcommand %q: want up or status", args[0])}
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&metastoreURL, "metastore", "", "metastore URL: postgres://... or sqlite://PATH (default $STRATA_METASTORE)")
	pf.DurationVar(&timeout, "timeout", time.Minute, "give up after this long")

	backend := func() (migrateBackend, error) {
		u := metastoreURL
		if u == "" {
			u = os.Getenv("STRATA_METASTORE")
		}
		if timeout <= 0 {
			return migrateBackend{}, usageError{fmt.Errorf("--timeout %v is not positive", timeout)}
		}
		b, err := migrateBackendFor(u)
		if err != nil {
			return migrateBackend{}, usageError{err}
		}
		return b, nil
	}

	up := &cobra.Command{
		Use:   "up",
		Short: "Apply the migrations the metastore has not seen",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := backend()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			applied, err := b.migrate(ctx)
			for _, m := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %s\n", m.Name)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
			}
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List the migrations, applied or pending",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := backend()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			ms, err := b.status(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tNAME\tSTATUS\tAPPLIED AT")
			pending := 0
			for _, m := range ms {
				state, at := "pending", "-"
				if m.Applied {
					state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
				} else {
					pending++
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", m.Version, m.Name, state, at)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if pending > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%d pending: run strata migrate up\n", pending)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
			}
			return nil
		},
	}
	cmd.AddCommand(up, status)
	return cmd
}

// migrateBackendFor checks the URL up front, so that a bad one is a usage
// error (exit 2) before anything connects; metastore/open does the rest.
func migrateBackendFor(rawURL string) (migrateBackend, error) {
	if rawURL == "" {
		return migrateBackend{}, errors.New("migrate: no metastore: give --metastore URL or set STRATA_METASTORE")
	}
	if err := open.CheckURL(rawURL); err != nil {
		return migrateBackend{}, fmt.Errorf("migrate: %w", err)
	}
	return migrateBackend{
		migrate: func(ctx context.Context) ([]metastore.Migration, error) { return open.Migrate(ctx, rawURL) },
		status:  func(ctx context.Context) ([]metastore.Migration, error) { return open.MigrationStatus(ctx, rawURL) },
	}, nil
}
