/*
 * Test-only stand-in for bcryptprimitives.dll under Wine, never shipped: Rust's standard library
 * imports ProcessPrng from it (every Windows since 10 has it), and Wine 8.0's copy lacks it.
 * scripts/test-windows.sh builds this beside the test programs; it answers ProcessPrng with
 * RtlGenRandom (advapi32's SystemFunction036).
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG piece = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, piece)) return FALSE;
        data += piece;
        len -= piece;
    }
    return TRUE;
}
