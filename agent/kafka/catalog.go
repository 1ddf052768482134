package kafka

import (
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
)

// Lookups the request handlers share.

func (srv *Server) topicByName(name string) *partlog.Topic { return srv.reg.Topic(name) }

func (srv *Server) topicByID(id metastore.TopicID) *partlog.Topic { return srv.reg.TopicByID(id) }

func (srv *Server) allTopics() []*partlog.Topic { return srv.reg.Topics() }

func (srv *Server) coordinatorFor(group string) metastore.Agent { return srv.own.CoordinatorFor(group) }
