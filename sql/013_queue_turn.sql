-- When each place's turn came (docs/authd.md, "The waiting room"). A place's
-- turn comes when it is among the first k places of its service's line, k
-- being the users the service could admit now: free slots under the cap in
-- force, bounded by what the admission rate allows now. Every admission
-- transaction of the service stamps turn_at = now on those places that have
-- none, under the same lock as the cap check; a place keeps its first
-- turn_at until it goes. NULL: the turn has not come.
ALTER TABLE queue ADD COLUMN turn_at INTEGER;
