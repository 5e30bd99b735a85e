# bcryptprimitives.dll for Wine 8, which lacks it: the Go 1.21+ runtime
# gets its random bytes from ProcessPrng and dies at start without it.
# ProcessPrng(PBYTE, SIZE_T) forwards to BCryptGenRandom with
# BCRYPT_USE_SYSTEM_PREFERRED_RNG. Built by .ci/wine-tests (recipe in
# ../shared/guide/WINDOWS-ON-LINUX.md); never shipped.
	.intel_syntax noprefix
	.text
	.globl DllMain
DllMain:
	mov eax, 1
	ret
	.globl ProcessPrng            # BOOL ProcessPrng(PBYTE, SIZE_T)
ProcessPrng:
	sub rsp, 40
	mov r8, rdx
	mov rdx, rcx
	xor ecx, ecx
	mov r9d, 2                    # BCRYPT_USE_SYSTEM_PREFERRED_RNG
	call [rip + __imp_BCryptGenRandom]
	mov eax, 1
	add rsp, 40
	ret
