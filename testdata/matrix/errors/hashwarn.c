#warning "this triggers a compiler warning"
int hashwarn;
