package checksum

// CRC combination: the CRC of A‖B from crc(A), crc(B) and len(B), without
// the bytes. It gives FULL_OBJECT checksums of multipart uploads from the
// part checksums alone. This is zlib's crc32_combine method (GF(2) matrix
// powers of the "append one zero bit" operator), generalised to the
// reflected 32- and 64-bit CRCs S3 uses (all with init and xorout ~0).
// Neither the standard library nor a well-kept module offers it for all
// three, and it is small.

func gf2Times(mat []uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat []uint64) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}

// combine returns crc(A‖B) for a reflected CRC of width bits with
// reversed polynomial poly.
func combine(crc1, crc2 uint64, len2 int64, poly uint64, width int) uint64 {
	if len2 <= 0 {
		return crc1
	}
	even := make([]uint64, width)
	odd := make([]uint64, width)
	odd[0] = poly // the operator for one zero bit
	row := uint64(1)
	for n := 1; n < width; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(even, odd) // two zero bits
	gf2Square(odd, even) // four zero bits
	for {
		gf2Square(even, odd)
		if len2&1 != 0 {
			crc1 = gf2Times(even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(odd, even)
		if len2&1 != 0 {
			crc1 = gf2Times(odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

// Reversed polynomials.
const (
	polyCRC32     = 0xedb88320
	polyCRC32C    = 0x82f63b78
	polyCRC64NVME = 0x9a6c9329ac4bc9b5
)

// Combine returns the checksum (big-endian digest bytes) of A‖B from the
// digests of A and B and the length of B. ok is false for algorithms that
// cannot be combined (SHA*).
func Combine(a Algorithm, sumA, sumB []byte, lenB int64) ([]byte, bool) {
	switch a {
	case CRC32, CRC32C:
		if len(sumA) != 4 || len(sumB) != 4 {
			return nil, false
		}
		poly := uint64(polyCRC32)
		if a == CRC32C {
			poly = polyCRC32C
		}
		c := combine(uint64(be32(sumA)), uint64(be32(sumB)), lenB, poly, 32)
		return []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}, true
	case CRC64NVME:
		if len(sumA) != 8 || len(sumB) != 8 {
			return nil, false
		}
		c := combine(be64(sumA), be64(sumB), lenB, polyCRC64NVME, 64)
		out := make([]byte, 8)
		for i := 0; i < 8; i++ {
			out[i] = byte(c >> (56 - 8*i))
		}
		return out, true
	}
	return nil, false
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
