-- Keyward store, PostgreSQL: PIN letter check digits and voided letters (issue 17, item 11). Keep in
-- step with ../sqlite/0015.
--
-- Letters created from now on are printed with ISO 7064 MOD 97-10 check digits (`100002-16`)
-- and must be typed with them; letters created before were printed with the bare number
-- (check_printed = 0) and may be chosen by it only when the officer says so.
ALTER TABLE pin_letters ADD COLUMN check_printed BIGINT NOT NULL DEFAULT 0;
-- A damaged or lost letter is voided: never used for a token afterwards.
ALTER TABLE pin_letters ADD COLUMN voided_at BIGINT;    -- set, with the two below, when voided
ALTER TABLE pin_letters ADD COLUMN voided_by TEXT;     -- officer name
ALTER TABLE pin_letters ADD COLUMN void_reason TEXT;
-- `pin-letters list --next-free`: the lowest free letter of a PIN procedure without reading
-- the used ones before it.
CREATE INDEX pin_letters_free ON pin_letters (pin_procedure, letter_id)
    WHERE used_at IS NULL AND voided_at IS NULL;
