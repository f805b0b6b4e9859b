package deploy

import (
	"errors"
	"fmt"
)

// run drives the phases in order. Each phase's method ends the deploy
// itself (its failed or finish) when it returns an error: run only stops.
func (d *deployer) run() error {
	if err := d.preflight(); err != nil {
		return err
	}
	runner, verifier, rollbacker, err := d.open()
	if err != nil {
		return err
	}
	if err := d.refresh(runner); err != nil {
		return err
	}
	changes, err := d.preview(runner)
	if err != nil {
		return err
	}
	d.forecast(runner)
	if changes.Changed() == 0 {
		return d.unchanged(runner, verifier)
	}
	if err := d.confirm(changes); err != nil {
		return err
	}
	before, err := d.snapshot(rollbacker)
	if err != nil {
		return err
	}
	return d.upAndVerify(runner, verifier, rollbacker, before, changes)
}

func (d *deployer) preflight() error {
	if !d.cfg.Yes && !d.cfg.Interactive {
		return d.failed(PhasePreflight, usageError(errors.New(
			"stdin is not a terminal, so zerocost deploy cannot ask before deploying: pass --yes to deploy without asking")))
	}
	if d.deps.Preflight != nil {
		d.phase(PhasePreflight, StatusStarted, "")
		if err := d.deps.Preflight(d.ctx); err != nil {
			return d.failed(PhasePreflight, err)
		}
		d.phase(PhasePreflight, StatusDone, "")
	}
	return nil
}

// open selects the stack and, unless verification is skipped, builds the
// verifier and the rollbacker (nil with --no-rollback).
func (d *deployer) open() (Runner, Verifier, Rollbacker, error) {
	d.phase(PhaseOpen, StatusStarted, "stack "+d.cfg.Stack)
	runner, err := d.deps.Open(d.ctx)
	if err != nil {
		return nil, nil, nil, d.failed(PhaseOpen, d.opError(err))
	}
	var verifier Verifier
	var rollbacker Rollbacker
	if !d.cfg.SkipVerify {
		creds, err := d.credentials(runner)
		if err != nil {
			return nil, nil, nil, d.failed(PhaseOpen, err)
		}
		if verifier, err = d.deps.NewVerifier(creds); err != nil {
			return nil, nil, nil, d.failed(PhaseOpen, err)
		}
		if d.rollbackEnabled() {
			if rollbacker, err = d.deps.NewRollbacker(creds); err != nil {
				return nil, nil, nil, d.failed(PhaseOpen, err)
			}
		}
	}
	d.phase(PhaseOpen, StatusDone, "")
	return runner, verifier, rollbacker, nil
}

func (d *deployer) refresh(runner Runner) error {
	if !d.cfg.Refresh {
		d.phase(PhaseRefresh, StatusSkipped, "pass --refresh to read the resources' state from Cloudflare first")
		return nil
	}
	d.phase(PhaseRefresh, StatusStarted, "")
	ch, err := runner.Refresh(d.ctx, d.progress(PhaseRefresh, 0))
	if err != nil {
		return d.failed(PhaseRefresh, d.opError(err))
	}
	d.emit(Event{Type: EventChanges, Phase: PhaseRefresh, Changes: ch})
	d.phase(PhaseRefresh, StatusDone, "")
	return nil
}

func (d *deployer) preview(runner Runner) (Changes, error) {
	d.phase(PhasePreview, StatusStarted, "stack "+d.cfg.Stack)
	changes, err := runner.Preview(d.ctx, d.progress(PhasePreview, 0))
	if err != nil {
		return nil, d.failed(PhasePreview, d.opError(err))
	}
	d.res.Changes = changes
	d.emit(Event{Type: EventChanges, Phase: PhasePreview, Changes: changes})
	d.phase(PhasePreview, StatusDone, "")
	return changes, nil
}

// unchanged ends a deploy with nothing to change: the stack's current
// outputs are verified instead.
func (d *deployer) unchanged(runner Runner, verifier Verifier) error {
	cfg := d.cfg
	d.phase(PhaseConfirm, StatusSkipped, "no changes to deploy")
	d.phase(PhaseSnapshot, StatusSkipped, "no changes to deploy")
	d.phase(PhaseUp, StatusSkipped, "no changes to deploy")
	if cfg.SkipVerify {
		d.phase(PhaseVerify, StatusSkipped, "--skip-verify")
		return d.finish(OutcomeUnchanged, nil, "stack "+cfg.Stack+" is up to date: no changes")
	}
	outs, err := runner.Outputs(d.ctx)
	if err != nil {
		return d.failed(PhaseVerify, fmt.Errorf("read the stack's outputs: %w", err))
	}
	d.res.Outputs = outs
	passed := d.verify(PhaseVerify, verifier, outs)
	d.res.Verified = &passed
	if !passed {
		return d.finish(OutcomeVerifyFailed, fmt.Errorf("stack %s has no changes to deploy, but its verification failed (nothing to roll back)", cfg.Stack), "")
	}
	return d.finish(OutcomeUnchanged, nil, "stack "+cfg.Stack+" is up to date and verified")
}

func (d *deployer) confirm(changes Changes) error {
	if d.cfg.Yes {
		d.phase(PhaseConfirm, StatusSkipped, "--yes")
		return nil
	}
	d.phase(PhaseConfirm, StatusStarted, "")
	q := fmt.Sprintf("Deploy stack %s: %s?", d.cfg.Stack, FormatChanges(changes))
	yes, err := d.deps.Confirm(q)
	if err != nil {
		return d.failed(PhaseConfirm, err)
	}
	if !yes {
		d.phase(PhaseConfirm, StatusDone, "declined")
		return d.finish(OutcomeDeclined, errors.New("deploy cancelled: nothing was changed"), "")
	}
	d.phase(PhaseConfirm, StatusDone, "confirmed")
	return nil
}

// snapshot records the versions each Worker serves, for a rollback.
func (d *deployer) snapshot(rollbacker Rollbacker) (map[string]ScriptState, error) {
	before := map[string]ScriptState{}
	if rollbacker == nil {
		why := "--no-rollback"
		if d.cfg.SkipVerify {
			why = "--skip-verify: nothing to roll back for"
		}
		d.phase(PhaseSnapshot, StatusSkipped, why)
		return before, nil
	}
	d.phase(PhaseSnapshot, StatusStarted, "record the versions each Worker serves")
	for _, script := range d.cfg.Scripts {
		st, err := rollbacker.Active(d.ctx, script)
		if err != nil {
			return nil, d.failed(PhaseSnapshot, fmt.Errorf("cannot record the version Worker %s serves, so a failed verification could not be rolled back "+
				"(nothing was deployed; fix the token's permissions, or pass --no-rollback): %w", script, err))
		}
		before[script] = st
		e := Event{Type: EventScript, Phase: PhaseSnapshot, Script: script, Status: ScriptRecorded, Versions: st.Versions}
		switch {
		case !st.Exists:
			e.Status = ScriptNew
		case len(st.Versions) == 0:
			e.Status = ScriptNoVersion
		}
		d.emit(e)
	}
	d.phase(PhaseSnapshot, StatusDone, "")
	return before, nil
}

// upAndVerify deploys, verifies, and rolls back when verification fails.
func (d *deployer) upAndVerify(runner Runner, verifier Verifier, rollbacker Rollbacker, before map[string]ScriptState, changes Changes) error {
	cfg := d.cfg
	d.phase(PhaseUp, StatusStarted, "")
	upChanges, outs, err := runner.Up(d.ctx, d.progress(PhaseUp, changes.Changed()))
	if err != nil {
		return d.failed(PhaseUp, d.opError(err))
	}
	d.res.Outputs = outs
	d.emit(Event{Type: EventChanges, Phase: PhaseUp, Changes: upChanges})
	d.phase(PhaseUp, StatusDone, "")

	if cfg.SkipVerify {
		d.phase(PhaseVerify, StatusSkipped, "--skip-verify")
		return d.finish(OutcomeDeployed, nil, "deployed stack "+cfg.Stack+" ("+FormatChanges(upChanges)+"); not verified (--skip-verify)")
	}
	passed := d.verify(PhaseVerify, verifier, outs)
	d.res.Verified = &passed
	if passed {
		return d.finish(OutcomeDeployed, nil, "deployed and verified stack "+cfg.Stack+" ("+FormatChanges(upChanges)+")")
	}
	if rollbacker == nil {
		d.phase(PhaseRollback, StatusSkipped, "--no-rollback")
		return d.finish(OutcomeVerifyFailed, fmt.Errorf("verification of stack %s failed after `up`; nothing was rolled back (--no-rollback)", cfg.Stack), "")
	}
	return d.rollback(rollbacker, verifier, before, outs)
}
