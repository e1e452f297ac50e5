package main

import (
	"fmt"
	"net/http"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/provision"
)

// newAPI builds the provisioning API and operator page served on the admin listener, or returns
// nil when there is no admin listener or no store to provision.
func (in *instance) newAPI() (http.Handler, error) {
	o := in.opts
	if o.HTTP.AdminListen == "" {
		return nil, nil
	}
	if in.store == nil {
		in.log.Warn("provisioning API disabled: no subscriber store")
		return nil, nil
	}
	rw, ro, err := apiTokens(o)
	if err != nil {
		return nil, err
	}
	if len(rw)+len(ro) == 0 {
		in.log.Warn("provisioning API: no tokens (http.api): it refuses every request")
	}
	api, err := provision.New(provision.Options{
		Store:           in.store,
		Sanitize:        provision.ContentSanitizer(cardPolicy(o.Cards)),
		Classify:        provision.ContentCode,
		CheckClip:       provision.MediaClipCheck(clipLimits(o.Clips)),
		MaxCardBytes:    int64(o.Cards.MaxBytes),
		MaxClipBytes:    int64(o.Clips.MaxBytes),
		ReadWriteTokens: rw,
		ReadOnlyTokens:  ro,
		Registry:        in.metrics,
		Logger:          in.log,
	})
	if err != nil {
		return nil, fmt.Errorf("herald: %w", err)
	}
	in.api = api
	return api, nil
}

// apiTokens returns the bearer tokens of http.api: the ones listed and those of its tokens_file.
func apiTokens(o *config.Options) (rw, ro []string, err error) {
	rw, ro = o.HTTP.API.ReadWriteTokens, o.HTTP.API.ReadOnlyTokens
	if f := o.HTTP.API.TokensFile; f != "" {
		frw, fro, err := provision.ReadTokensFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("herald: http.api.tokens_file: %w", err)
		}
		rw, ro = append(append([]string(nil), rw...), frw...), append(append([]string(nil), ro...), fro...)
	}
	return rw, ro, nil
}

// adminTokens returns the bearer tokens of http.admin_token_file (both kinds), nil without one. A
// file that holds no token is an error: it would lock every operator out of /metrics.
func adminTokens(o *config.Options) ([]string, error) {
	f := o.HTTP.AdminTokenFile
	if f == "" {
		return nil, nil
	}
	rw, ro, err := provision.ReadTokensFile(f)
	if err != nil {
		return nil, fmt.Errorf("herald: http.admin_token_file: %w", err)
	}
	if len(rw)+len(ro) == 0 {
		return nil, fmt.Errorf("herald: http.admin_token_file: %s: %w", f, provision.ErrNoTokens)
	}
	return append(rw, ro...), nil
}
