-- Keyward store: a PIN mail is claimed by one Secure Printer run (on any server node) until
-- claimed_until, so two runs never send or print the same PIN twice. NULL: not claimed.
ALTER TABLE pin_mail ADD COLUMN claimed_until INTEGER;
