/* LAPACK dorgqr (ilaenv block 32) against the same Q formed with 128-column panels (larft + larfb), as
 * Linalg.LAPACK.formQ does; CPU seconds on one thread, so the figure holds on a loaded machine.
 *   cc -O2 -o orgqr_block experiments/bench/orgqr_block.c $(pkg-config --cflags --libs lapacke openblas)
 *   OPENBLAS_NUM_THREADS=1 ./orgqr_block 4000 128
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lapacke.h>
#include <cblas.h>
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static void formq(double*a,int m,int lda,const double*tau,int nb){
  int n=m,k=m; double*t=malloc(sizeof(double)*nb*nb); double*work=malloc(sizeof(double)*n*nb);
  int last=((k-1)/nb)*nb;
  for(int i=last;i>=0;i-=nb){int ib=k-i<nb?k-i:nb; double*v=a+i+(size_t)i*lda;
    if(i+ib<n){LAPACKE_dlarft_work(LAPACK_COL_MAJOR,'F','C',m-i,ib,v,lda,tau+i,t,nb);
      LAPACKE_dlarfb_work(LAPACK_COL_MAJOR,'L','N','F','C',m-i,n-i-ib,ib,v,lda,t,nb,a+i+(size_t)(i+ib)*lda,lda,work,n-i-ib);}
    LAPACKE_dorgqr(LAPACK_COL_MAJOR,m-i,ib,ib,v,lda,tau+i);
    for(int j=i;j<i+ib;j++) memset(a+(size_t)j*lda,0,sizeof(double)*i);}
  free(t);free(work);}
int main(int argc,char**argv){int m=atoi(argv[1]);int nb=atoi(argv[2]);
  double*a=malloc(sizeof(double)*m*m),*b=malloc(sizeof(double)*m*m),*tau=malloc(sizeof(double)*m);
  srand(1);for(size_t i=0;i<(size_t)m*m;i++)a[i]=rand()/(double)RAND_MAX-0.5;
  LAPACKE_dgeqrf(LAPACK_COL_MAJOR,m,m,a,m,tau); memcpy(b,a,sizeof(double)*m*m);
  double t0=cpu(); LAPACKE_dorgqr(LAPACK_COL_MAJOR,m,m,m,a,m,tau); double t1=cpu();
  formq(b,m,m,tau,nb); double t2=cpu();
  double md=0;for(size_t i=0;i<(size_t)m*m;i++){double d=a[i]-b[i];if(d<0)d=-d;if(d>md)md=d;}
  printf("m=%d dorgqr %.2f s, blocked nb=%d %.2f s (cpu), max|diff| %.2e\n",m,t1-t0,nb,t2-t1,md);}
