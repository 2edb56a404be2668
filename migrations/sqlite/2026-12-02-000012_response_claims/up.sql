-- Claims (issue #16): a response by someone who was not called for the page (not its
-- acknowledger, not on call for the owning team at the trigger) is recorded as `pending`
-- and is not paid until a manager of their team or finance approves it (`paid`), or is
-- `rejected`. The state lives on the response's own row, so triggers on `responses` see
-- every change; `paid` is what pricing reads.
-- Corrections: an amendment is a new row naming the version it `supersedes` (the old row
-- becomes `superseded`, unpaid, and is kept); a withdrawal marks the row `withdrawn`.
ALTER TABLE responses ADD COLUMN status TEXT NOT NULL DEFAULT 'paid' CHECK (status IN ('paid', 'pending', 'rejected', 'superseded', 'withdrawn'));
ALTER TABLE responses ADD COLUMN paid BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE responses ADD COLUMN decided_by TEXT;
ALTER TABLE responses ADD COLUMN decided_at TIMESTAMP;
ALTER TABLE responses ADD COLUMN decision_reason TEXT;
ALTER TABLE responses ADD COLUMN supersedes TEXT;
