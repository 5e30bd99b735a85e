package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/email"
	"github.com/evtwatch/evtwatch/notify/slack"
)

// fileConfig is the config file that scan, watch and notify share. Its
// default location is evtwatchConfigPath(): %ProgramData%\evtwatch\config.yaml
// on Windows, /etc/evtwatch/config.yaml elsewhere. It is decoded strictly:
// an unknown or misspelt key is an error, not a silently ignored setting.
type fileConfig struct {
	scanConfig `yaml:",inline"`
	Notify     notify.Config `yaml:"notify"`
}

// readConfigFile reads and strictly decodes a config file, with notify's
// defaults filled in, and returns it with the folder that relative paths
// in it are taken from. It resolves nothing else. Errors are *configError
// (exit 4) and name the file.
func readConfigFile(path string) (*fileConfig, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", &configError{err: fmt.Errorf("config file %s does not exist (create it, or give --config)", path)}
		}
		return nil, "", &configError{err: fmt.Errorf("read config: %w", err)}
	}
	fc := &fileConfig{Notify: notify.DefaultConfig()}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, "", &configError{err: fmt.Errorf("config %s: %w", path, err)}
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(path); err == nil {
		dir = filepath.Dir(abs)
	}
	return fc, dir, nil
}

// loadNotifyConfig loads a config file for the notify command: the whole
// file is decoded strictly, and the notify section is resolved (${ENV},
// *_file secrets, defaults) and validated, every problem at once. Sources
// and rules are not checked here ("evtwatch config validate" does), so a
// notify-only file can be tested before the rest is written.
func loadNotifyConfig(path string, lookupEnv func(string) (string, bool)) (notify.Config, error) {
	fc, dir, err := readConfigFile(path)
	if err != nil {
		return notify.Config{}, err
	}
	if err := fc.Notify.Resolve(dir, lookupEnv); err != nil {
		return notify.Config{}, &configError{err: fmt.Errorf("config %s:\n  %s", path, strings.ReplaceAll(err.Error(), "\n", "\n  "))}
	}
	return fc.Notify, nil
}

// notifyChannels makes one channel per configured notifier, in a fixed
// order (email, slack). With dryRun each is a console notifier that writes
// exactly what it would send to out and sends nothing.
func notifyChannels(cfg notify.Config, logger *slog.Logger, dryRun bool, out io.Writer) ([]notify.Channel, error) {
	var chans []notify.Channel
	if cfg.Email != nil {
		n, err := email.New(cfg.Email, logger.With("channel", "email"))
		if err != nil {
			return nil, &configError{err: err}
		}
		var nn notify.Notifier = n
		if dryRun {
			nn = notify.NewConsole(out, "email", n)
		}
		chans = append(chans, notify.Channel{Name: "email", Notifier: nn})
	}
	if cfg.Slack != nil {
		n, err := slack.New(cfg.Slack, logger.With("channel", "slack"))
		if err != nil {
			return nil, &configError{err: err}
		}
		var nn notify.Notifier = n
		if dryRun {
			nn = notify.NewConsole(out, "slack", n)
		}
		chans = append(chans, notify.Channel{Name: "slack", Notifier: nn})
	}
	return chans, nil
}
