-- 0005_listeners: every agent's advertised listeners, so a client is given
-- each agent's address on the listener it connected to. agents.host and
-- agents.port stay the first listener's (agents of older versions set only
-- those). Rows of an agent are replaced whole at its start.

CREATE TABLE agent_listeners (
    agent_id TEXT    NOT NULL,
    position INTEGER NOT NULL, -- order of the agent's --listeners
    name     TEXT    NOT NULL,
    host     TEXT    NOT NULL,
    port     INTEGER NOT NULL,
    PRIMARY KEY (agent_id, name)
);
