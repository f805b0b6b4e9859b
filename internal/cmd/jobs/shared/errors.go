package shared

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
)

// apiError is the Workers' error body: {"error":{"code","message",...}}.
type apiError struct {
	Error struct {
		Code     contract.ErrorCode `json:"code"`
		Message  string             `json:"message"`
		ResetsAt string             `json:"resets_at"`
	} `json:"error"`
}

// answerError says what a failed admin call means for the user.
func answerError(status int, data []byte) error {
	var e apiError
	_ = json.Unmarshal(data, &e)
	msg := e.Error.Message
	if msg == "" {
		msg = strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
	}
	switch {
	case e.Error.Code == contract.ErrBudgetExhausted:
		when := ""
		if e.Error.ResetsAt != "" {
			when = " (it resets at " + e.Error.ResetsAt + ")"
		}
		return fmt.Errorf("the budget is still spent%s: %s. Raise settings.monthlyBudgetUsd and run pulumi up, or wait for the reset", when, msg)
	case status == http.StatusUnauthorized:
		return cmdutil.ConfigError(fmt.Errorf("the Worker refused the token (401): is %s the stack's zerocost:authToken? %s", EnvAuthToken, msg))
	case status == http.StatusForbidden:
		return cmdutil.ConfigError(fmt.Errorf("the Worker has no admin routes open (403): %s", msg))
	case status == http.StatusNotFound:
		return fmt.Errorf("the Worker has no admin route here (404): is it deployed with this version of zerocost? %s", msg)
	}
	return fmt.Errorf("the Worker answered %d: %s", status, msg)
}
