package agent

import (
	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/ownership"
	"github.com/stratalog/strata/partlog"
)

// What the external tests (package agent_test) inspect. They are external
// because they start agents with internal/testkit, which imports agent.

func (a *Agent) Config() Config                { return a.cfg }
func (a *Agent) Metastore() metastore.Store    { return a.meta }
func (a *Agent) Registry() *partlog.Registry   { return a.reg }
func (a *Agent) Ownership() *ownership.Manager { return a.own }
func (a *Agent) Groups() *group.Coordinator    { return a.groups }
func (a *Agent) AgentID() string               { return a.agentID }
func (a *Agent) Advertised() (string, int32)   { return a.advHost, a.advPort }
