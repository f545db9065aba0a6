package apikey

// Encode re-encodes a parsed key, for the round-trip property of FuzzParse.
func Encode(p Parsed) string { return encode(p.Environment, p.ID, p.secret) }

// Checksum is the allocation-free CRC-32 of Parse, for comparison with
// hash/crc32.
func Checksum(s string) uint32 { return checksum(s) }
