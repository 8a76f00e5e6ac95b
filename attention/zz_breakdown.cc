#include <omp.h>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>
#include "attention/fastrg_sampler.h"
#include "attention/sbm_attention_kernels.h"
using namespace sbmt::attention;
double now(){return std::chrono::duration<double,std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();}
int main(int argc, char** argv){
  int64_t n=4096,H=2,k=128,d=32; double s=atof(argv[1]);
  std::mt19937 g(1); std::uniform_real_distribution<float> u(0,1); std::normal_distribution<float> N(0,1);
  std::vector<float> y(H*n*k),z(H*n*k),b(H*k*k); for(auto&x:y)x=u(g); for(auto&x:z)x=u(g);
  for(auto&x:b)x=u(g)*2.0f*s/(k*k);
  FastRgParams p; p.batch=1;p.heads=H;p.n_q=n;p.n_k=n;p.k=k;p.y=y.data();p.z=z.data();p.b=b.data();p.eps=0.01f;
  for(int rep=0;rep<3;rep++){
  p.step=rep;
  double t0=now(); SbmGraph gr=fastrg_sample(p); double t1=now();
  int64_t E=gr.edges();
  std::vector<float> q(H*n*d),kk(H*n*d),v(H*n*d),out(H*n*d),alpha(E),go(H*n*d),dq(H*n*d),dk(H*n*d),dv(H*n*d),dp(E),dy(y.size()),dz(z.size()),db(b.size());
  for(auto&x:q)x=N(g);for(auto&x:kk)x=N(g);for(auto&x:v)x=N(g);for(auto&x:go)x=N(g);
  SbmEdges ed{gr.graphs,n,n,gr.row_ptr.data(),gr.col.data()};
  SbmForwardParams<float> f; f.edges=ed;f.d=d;f.q=q.data();f.k=kk.data();f.v=v.data();f.scale=0.17f;f.out=out.data();f.alpha=alpha.data();
  double t2=now(); cpu::sbm_attention_forward(f); double t3=now();
  SbmBackwardParams<float> bb; bb.edges=ed;bb.d=d;bb.q=q.data();bb.k=kk.data();bb.v=v.data();bb.out=out.data();bb.alpha=alpha.data();bb.grad_out=go.data();bb.scale=0.17f;bb.dq=dq.data();bb.dk=dk.data();bb.dv=dv.data();bb.dp=dp.data();
  cpu::sbm_attention_backward(bb); double t4=now();
  SbmMembershipBackwardParams<float> m; m.edges=ed;m.heads=H;m.k=k;m.y=y.data();m.z=z.data();m.b=b.data();m.dp=dp.data();m.dy=dy.data();m.dz=dz.data();m.db=db.data();
  cpu::sbm_membership_backward(m); double t5=now();
  printf("E=%ld density=%.3f sample %.1f fwd %.1f bwd %.1f memb %.1f ms\n",(long)E,(double)E/(H*n*n),t1-t0,t3-t2,t4-t3,t5-t4);}
}
