// MPI from OpenMPI (Debian libopenmpi-dev). The include directory comes from `pkg-config --cflags ompi-c`
// (Package.swift names the pkg-config file). Only built with the package trait MPI.
//
// OpenMPI spells its handles as macros that cast addresses of global objects (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM, MPI_IN_PLACE, …); Swift cannot import such macros, so these inline functions return them.
#include <mpi.h>

static inline MPI_Comm lmprobe_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype lmprobe_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype lmprobe_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype lmprobe_mpi_long_long(void) { return MPI_LONG_LONG; }
static inline MPI_Op lmprobe_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op lmprobe_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler lmprobe_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *lmprobe_mpi_in_place(void) { return MPI_IN_PLACE; }
