package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/agent/kafka"
	"github.com/stratalog/strata/internal/redact"
	"github.com/stratalog/strata/metastore"
)

// newUsersCommand is `strata users add|delete|list`: SASL/SCRAM users in
// the metastore, for the first user before any client can authenticate
// (later ones can also be managed with Kafka's AlterUserScramCredentials,
// e.g. kafka-configs.sh). It works while agents run: they read
// credentials at every authentication.
func newUsersCommand() *cobra.Command {
	var (
		dataDir, metastoreURL string
		timeout               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "users add|delete|list",
		Short: "Manage SASL/SCRAM users in the metastore",
		Long: `Manage SASL/SCRAM users in the metastore the agents use: the same
--data-dir and --metastore as "strata agent" (and STRATA_DATA_DIR,
STRATA_METASTORE). Only salted credentials are stored, never passwords.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("users: missing subcommand: add, delete or list")}
			}
			return usageError{fmt.Errorf("users: unknown subcommand %q: want add, delete or list", args[0])}
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&dataDir, "data-dir", "strata-data", "the agent's data dir (its default metastore is sqlite://<data-dir>/meta.db)")
	pf.StringVar(&metastoreURL, "metastore", "", "metastore URL (default $STRATA_METASTORE, else sqlite://<data-dir>/meta.db)")
	pf.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")

	open := func(cmd *cobra.Command) (metastore.Store, context.Context, context.CancelFunc, error) {
		u := metastoreURL
		if !cmd.Flags().Changed("metastore") && os.Getenv("STRATA_METASTORE") != "" {
			u = os.Getenv("STRATA_METASTORE")
		}
		dir := dataDir
		if !cmd.Flags().Changed("data-dir") && os.Getenv("STRATA_DATA_DIR") != "" {
			dir = os.Getenv("STRATA_DATA_DIR")
		}
		if u == "" {
			u = "sqlite://" + filepath.Join(dir, "meta.db")
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		m, err := agent.OpenMetastore(ctx, u)
		if err != nil {
			cancel()
			if errors.Is(err, agent.ErrBadURL) {
				return nil, nil, nil, usageError{err}
			}
			return nil, nil, nil, fmt.Errorf("metastore %s: %w", redact.URL(u), err)
		}
		return m, ctx, cancel, nil
	}

	var (
		mechanism, passwordFile string
		iterations              int
	)
	add := &cobra.Command{
		Use:   "add NAME --mechanism SCRAM-SHA-512 --password-file FILE",
		Short: "Add a user or replace its credential for one mechanism",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if passwordFile == "" {
				return usageError{errors.New("users add: --password-file is required (- reads standard input)")}
			}
			pw, err := readPassword(cmd.InOrStdin(), passwordFile)
			if err != nil {
				return usageError{err}
			}
			cred, err := kafka.NewScramCredential(args[0], mechanism, pw, iterations)
			if err != nil {
				return usageError{fmt.Errorf("users add: %w", err)}
			}
			m, ctx, cancel, err := open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			defer m.Close()
			if err := m.PutScramCredential(ctx, cred); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s: %s credential stored (%d iterations)\n", args[0], cred.Mechanism, iterations)
			return nil
		},
	}
	add.Flags().StringVar(&mechanism, "mechanism", "SCRAM-SHA-512", "SCRAM-SHA-256 or SCRAM-SHA-512")
	add.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password (one line; - for standard input)")
	add.Flags().IntVar(&iterations, "iterations", 8192, "PBKDF2 iterations (4096..16384)")

	del := &cobra.Command{
		Use:   "delete NAME [--mechanism M]",
		Short: "Delete a user's credential for one mechanism",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, ctx, cancel, err := open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			defer m.Close()
			if err := m.DeleteScramCredential(ctx, args[0], mechanism); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s: %s credential deleted\n", args[0], mechanism)
			return nil
		},
	}
	del.Flags().StringVar(&mechanism, "mechanism", "SCRAM-SHA-512", "SCRAM-SHA-256 or SCRAM-SHA-512")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users, their mechanisms and iteration counts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, ctx, cancel, err := open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			defer m.Close()
			cs, err := m.ScramCredentials(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "USER\tMECHANISM\tITERATIONS")
			for _, c := range cs {
				fmt.Fprintf(w, "%s\t%s\t%d\n", c.User, c.Mechanism, c.Iterations)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(add, del, list)
	return cmd
}

// readPassword reads a password file ("-": r) and drops one trailing
// newline.
func readPassword(r io.Reader, path string) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(r, 1<<16))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 {
		return nil, errors.New("password file: empty password")
	}
	return b, nil
}
