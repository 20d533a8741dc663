/*
 * OpenSSL loaded on first use (x86-64).  warden is linked without
 * libcrypto and libssl: each OpenSSL function it calls (ossl_syms.h) is
 * defined here as a jump through warden_ossl_fn, a table that starts out
 * empty.  The first call finds its entry empty and goes to
 * warden_ossl_slow, which keeps the caller's argument registers, has
 * warden_ossl_resolve (ossl_lazy.c) load warden-openssl.so and fill the
 * whole table, and then jumps to the real function as if called directly.
 *
 * Why: a static OpenSSL in a position-independent warden carries ~18,500
 * relocations whose pages every start copied before main (~0.45 ms here),
 * though a sandbox without TLS never calls OpenSSL.  The table sits in
 * .bss and is reached PC-relative, so the stubs need no relocation of
 * their own.
 */
	.section .note.GNU-stack,"",@progbits

	.text
	.set	ossl_i, 0

	.macro	ossl_stub name
	.globl	\name
	.type	\name, @function
	.p2align 4
\name:
	movq	warden_ossl_fn+8*ossl_i(%rip), %r11
	testq	%r11, %r11
	jz	1f
	jmpq	*%r11
1:	movl	$ossl_i, %r11d
	jmp	warden_ossl_slow
	.size	\name, .-\name
	.set	ossl_i, ossl_i+1
	.endm

#define OSSL_SYM(name) ossl_stub name
#include "ossl_syms.h"
#undef OSSL_SYM

/*
 * %r11 holds the function's index.  Everything a call may pass in
 * registers is kept: the six integer argument registers, %rax (the vector
 * register count of a variadic call) and %xmm0-7.  The stack stays
 * 16-byte aligned at the call (8 on entry, +8 for %rbp, 8 pushes, 128).
 */
	.p2align 4
	.type	warden_ossl_slow, @function
warden_ossl_slow:
	pushq	%rbp
	movq	%rsp, %rbp
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%r8
	pushq	%r9
	pushq	%rax
	pushq	%r11
	subq	$128, %rsp
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	movdqu	%xmm2, 32(%rsp)
	movdqu	%xmm3, 48(%rsp)
	movdqu	%xmm4, 64(%rsp)
	movdqu	%xmm5, 80(%rsp)
	movdqu	%xmm6, 96(%rsp)
	movdqu	%xmm7, 112(%rsp)
	call	warden_ossl_resolve
	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	movdqu	32(%rsp), %xmm2
	movdqu	48(%rsp), %xmm3
	movdqu	64(%rsp), %xmm4
	movdqu	80(%rsp), %xmm5
	movdqu	96(%rsp), %xmm6
	movdqu	112(%rsp), %xmm7
	addq	$128, %rsp
	popq	%r11
	popq	%rax
	popq	%r9
	popq	%r8
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	popq	%rbp
	leaq	warden_ossl_fn(%rip), %r10
	jmpq	*(%r10,%r11,8)
	.size	warden_ossl_slow, .-warden_ossl_slow

	.bss
	.p2align 3
	.globl	warden_ossl_fn
	.hidden	warden_ossl_fn
	.type	warden_ossl_fn, @object
warden_ossl_fn:
	.zero	8*ossl_i
	.size	warden_ossl_fn, 8*ossl_i

	.section .rodata
	.p2align 2
	.globl	warden_ossl_nstubs
	.hidden	warden_ossl_nstubs
	.type	warden_ossl_nstubs, @object
warden_ossl_nstubs:
	.long	ossl_i
	.size	warden_ossl_nstubs, 4
