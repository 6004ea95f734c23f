// CRC-32 (IEEE 802.3, the polynomial of zlib and gzip): the journal's record checksums and the
// results file's checksums of its config text and error messages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnsweep::io {

// The CRC-32 of `size` bytes at `data`, continuing from `crc` (0 for a first block).
std::uint32_t crc32(const void* data, size_t size, std::uint32_t crc = 0);

}  // namespace attnsweep::io
