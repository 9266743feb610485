-- Partition leases (projection kit): each partition's checkpoint carries the
-- epoch (fencing token) of the lease its writer holds. A new owner raises it
-- when it takes the partition over; a batch commits only while the row still
-- has its own epoch, so an instance that was paused past its lease and then
-- resumes commits nothing.
ALTER TABLE projection_checkpoints ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
