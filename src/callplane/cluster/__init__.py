"""Several Callplane nodes behind Kamailio, sharing PostgreSQL and Redis
(docs/cluster.md).

``kamailio`` renders the front's configuration from ``deploy/kamailio/kamailio.cfg``;
``local`` starts a whole cluster on one machine (``callplane cluster up``, tests).
"""
