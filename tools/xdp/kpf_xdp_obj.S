/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The compiled XDP classifier, kpf_xdp.bpf.o, as read-only data of the CLI
 * between kpf_xdp_obj and kpf_xdp_obj_end; classifier.c opens it with
 * bpf_object__open_mem(), so the CLI needs no file beside it.
 */
	.section .rodata
	.balign 8
	.globl kpf_xdp_obj
kpf_xdp_obj:
	.incbin "xdp/kpf_xdp.bpf.o"
	.globl kpf_xdp_obj_end
kpf_xdp_obj_end:
	.section .note.GNU-stack, "", @progbits
