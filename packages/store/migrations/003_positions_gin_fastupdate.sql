-- Decision → position lookups (outcome-linked recall) probe this GIN index one
-- decision at a time. With fastupdate, every probe also scans the pending list
-- of unmerged entries (hundreds of pages between vacuums); the arrays are short,
-- so merging on write costs little.
ALTER INDEX positions_decisions SET (fastupdate = off);
