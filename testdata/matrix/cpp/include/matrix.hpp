// A header-only template, instantiated from several sources.
#ifndef MATRIX_HPP
#define MATRIX_HPP
#include <cstddef>
#include <vector>

template <typename T, std::size_t N>
class Ring {
public:
	void push(const T &v)
	{
		if (items_.size() == N)
			items_.erase(items_.begin());
		items_.push_back(v);
	}
	std::size_t size() const { return items_.size(); }
	template <typename F>
	T fold(T init, F f) const
	{
		for (const auto &v : items_)
			init = f(init, v);
		return init;
	}

private:
	std::vector<T> items_;
};
#endif
