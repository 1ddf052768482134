package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// settings reads a command's flags, STRATA_* environment and YAML file
// (in that order of precedence) and collects every bad value, named by
// where it came from.
type settings struct {
	v    *viper.Viper
	from origins
	errs []error
}

// loadSettings binds flags, the environment and the --config file.
func loadSettings(v *viper.Viper, flags *pflag.FlagSet) (*settings, error) {
	s := &settings{v: v, from: origins{v: v, flags: flags}}
	if err := v.BindPFlags(flags); err != nil {
		return s, err
	}
	v.SetEnvPrefix("STRATA")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if path := v.GetString("config"); path != "" {
		s.from.file = path
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return s, fmt.Errorf("config file %s: %v", path, err)
		}
		known := map[string]bool{}
		flags.VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		for _, k := range v.AllKeys() {
			if !known[k] {
				return s, fmt.Errorf("config file %s: unknown key %q", path, k)
			}
		}
	}
	return s, nil
}

func (s *settings) bad(name string, err error) {
	s.errs = append(s.errs, fmt.Errorf("%s: %v", s.from.of(name), err))
}

// err is every bad value seen so far, joined.
func (s *settings) err() error { return errors.Join(s.errs...) }

func (s *settings) str(name string) string { return s.v.GetString(name) }

func (s *settings) size(name string) int64 {
	n, err := parseBytes(s.v.GetString(name))
	if err != nil {
		s.bad(name, err)
	}
	return n
}

func (s *settings) dur(name string) time.Duration {
	d, err := time.ParseDuration(s.v.GetString(name))
	if err != nil {
		s.bad(name, errors.New(strings.TrimPrefix(err.Error(), "time: ")))
	}
	return d
}

// Flags are parsed by pflag already; these catch a bad value from the
// environment or the file, which viper's GetBool/GetInt32 would turn into
// false or 0 without a word.

func (s *settings) boolean(name string) bool {
	str := fmt.Sprint(s.v.Get(name))
	b, err := strconv.ParseBool(str)
	if err != nil {
		s.bad(name, fmt.Errorf("%q is not true or false", str))
	}
	return b
}

func (s *settings) integer(name string, bits int) int64 {
	str := fmt.Sprint(s.v.Get(name))
	n, err := strconv.ParseInt(strings.TrimSpace(str), 10, bits)
	if err != nil {
		s.bad(name, fmt.Errorf("%q is not a whole number", str))
	}
	return n
}

func (s *settings) float(name string) float64 {
	str := fmt.Sprint(s.v.Get(name))
	f, err := strconv.ParseFloat(strings.TrimSpace(str), 64)
	if err != nil {
		s.bad(name, fmt.Errorf("%q is not a number", str))
	}
	return f
}

// checkBackendURLs checks --metastore and --objstore: each must look like
// a URL, and be set when required (an agent has embedded defaults, a
// compactor does not).
func (s *settings) checkBackendURLs(required bool) {
	for _, u := range []struct{ flag, want string }{
		{"metastore", "sqlite:// or postgres://"},
		{"objstore", "file:// or s3://"},
	} {
		switch url := s.str(u.flag); {
		case url == "" && required:
			s.errs = append(s.errs, fmt.Errorf("--%s is required", u.flag))
		case url != "" && !strings.Contains(url, "://"):
			s.errs = append(s.errs, fmt.Errorf("%s %q: not a URL (want %s...)", s.from.of(u.flag), url, u.want))
		}
	}
}
