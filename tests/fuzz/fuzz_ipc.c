#include <string.h>

#include "fuzz.h"
#include "ipc.h"

/*
 * ipfd's control socket: one received datagram through ipc_req_check. A
 * request it accepts is exactly one well-formed struct ipc_req, copied
 * unchanged, whose type and ids ipfd may act on; a refusal always says why.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_req req;
	struct ipc_rep rep;
	char why[128];

	why[0] = '\0';
	if (ipc_req_check(data, size, &req, why, sizeof why) == -1) {
		fuzz_assert(why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL);
		return 0;
	}
	fuzz_assert(size == sizeof req && memcmp(&req, data, sizeof req) == 0);
	fuzz_assert(req.magic == IPC_MAGIC && req.version == IPC_VERSION);
	fuzz_assert(req.type >= IPC_ADMIT && req.type < IPC_TYPE_MAX);
	if (req.type == IPC_ADMIT || req.type == IPC_REVOKE)
		fuzz_assert(req.right_id > 0);
	if (req.type == IPC_SYNC)
		fuzz_assert(req.service_id >= 0);

	ipc_rep_init(&rep, &req, IPC_EINVAL, ipc_status_str(IPC_EINVAL));
	fuzz_assert(rep.magic == IPC_MAGIC && rep.version == IPC_VERSION && rep.id == req.id);
	fuzz_assert(rep.status == IPC_EINVAL && strcmp(rep.msg, "invalid request") == 0);
	return 0;
}
