package agent

import (
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
)

// Lookups the request handlers share.

func (a *Agent) topicByName(name string) *partlog.Topic { return a.reg.Topic(name) }

func (a *Agent) topicByID(id metastore.TopicID) *partlog.Topic { return a.reg.TopicByID(id) }

func (a *Agent) allTopics() []*partlog.Topic { return a.reg.Topics() }

func (a *Agent) coordinatorFor(group string) metastore.Agent { return a.own.CoordinatorFor(group) }
