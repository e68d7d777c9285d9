// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-hold: holds one idle KVM VM with one vCPU until it is killed.
 *
 * The first VM or vCPU of a system, and the last one destroyed, flip
 * static keys and so patch kernel text.  Under multi-threaded TCG (the
 * test VM) a CPU occasionally executes the int3 of such a patch after the
 * patch completed, and the kernel oopses in __schedule().  The library
 * holds a VM for the life of each test program; running this in the
 * background for a whole test run keeps the keys on between programs too.
 *
 *   kvm-hold &  ...run the tests...  kill $!   (before unloading kvm_amd)
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

int main(void)
{
	int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm_fd;

	if (kvm_fd < 0) {
		fprintf(stderr, "kvm-hold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0 || ioctl(vm_fd, KVM_CREATE_VCPU, 0) < 0) {
		fprintf(stderr, "kvm-hold: %s\n", strerror(errno));
		return 1;
	}
	for (;;)
		pause();
}
