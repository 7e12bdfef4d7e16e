// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vCPU threads: one per vCPU, each looping on KVM_RUN (vcpu.c). This file
 * starts and joins them, and parks them for pause. A vCPU is pulled out of
 * KVM_RUN by setting kvm_run.immediate_exit and sending it SIGUSR1, whose
 * handler does nothing: the signal only interrupts the ioctl, and
 * immediate_exit closes the window where the signal lands just before it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "vmm/jail.h"
#include "vmm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (jail_thread(JAIL_VCPU) < 0) {
		vm_request_exit(v->vm, VM_ERROR, 0);
		return NULL;
	}
	if (v->setup) {
		ret = v->setup(v, v->setup_opaque);
		if (ret < 0) {
			pr_err("vcpu %u: setup: %s", v->id, strerror(-ret));
			vm_request_exit(v->vm, VM_ERROR, 0);
			return NULL;
		}
	}
	vcpu_run_loop(v);
	return NULL;
}

int vm_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set, old;
	unsigned int i;
	int ret;

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	/* Only vCPU threads take the kick signal: block it here, threads unblock it. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (ret) {
			pr_err("start vcpu %u: %s", i, strerror(ret));
			vm_request_exit(vm, VM_ERROR, 0);
			vm_join(vm);
			return -ret;
		}
		v->started = true;
	}
	return 0;
}

void vm_join(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (!v->started)
			continue;
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}

void vm_kick_vcpus(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->exit_reason != VM_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		return -ESRCH;
	}
	vm->paused = true;
	pthread_mutex_unlock(&vm->lock);
	vm_kick_vcpus(vm);
	pthread_mutex_lock(&vm->lock);
	while (vm->nr_parked < vm->nr_vcpus && vm->exit_reason == VM_RUNNING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

bool vm_is_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->lock);
	p = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	return p;
}

uint64_t vcpu_cpu_time_ns(struct vcpu *v)
{
	struct timespec ts;
	clockid_t cid;

	if (!v->started || pthread_getcpuclockid(v->thread, &cid) || clock_gettime(cid, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
